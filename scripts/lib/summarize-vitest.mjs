#!/usr/bin/env node
// Reads Vitest's JSON report and prints the plain summary CI reads: "N passed, N failed".
// A test file that failed to load, a missing report or a non-zero Vitest exit all count as
// failures, so a crash can never read as "0 failed".
import { readFileSync } from 'node:fs';

const [reportPath, exitCodeText, extraFailuresText = '0'] = process.argv.slice(2);
const exitCode = Number(exitCodeText);
const extraFailures = Number(extraFailuresText);

let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const report = JSON.parse(readFileSync(reportPath, 'utf8'));
  passed = report.numPassedTests;
  failed = report.numFailedTests;
  skipped = report.numPendingTests + report.numTodoTests;
  // Suites that failed outside any test (import error, failing hook) have no failed test.
  const brokenFiles = report.testResults.filter((file) => file.status === 'failed' && file.assertionResults.every((test) => test.status !== 'failed'));
  for (const file of brokenFiles) console.error(`test file failed outside its tests: ${file.name}: ${file.message ?? ''}`);
  failed += brokenFiles.length;
} catch (error) {
  console.error(`no readable Vitest report at ${reportPath}: ${error.message}`);
  failed += 1;
}
if (exitCode !== 0 && failed === 0) {
  console.error(`vitest exited with ${exitCode} although no test failed`);
  failed = 1;
}
failed += extraFailures;
// Skipped tests (opt-in measurements) are said on a line of their own: the last line stays the
// plain "N passed, N failed" that CI reads.
if (skipped > 0) console.log(`${skipped} skipped (opt-in, see their files)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
