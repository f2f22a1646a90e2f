// Container health probe: `node /app/healthcheck.mjs URL` exits 0 when URL answers 2xx, 1 otherwise.
// The runtime images have no curl or wget (node:20-slim), and a probe written in Node needs
// nothing installed. Used by both Dockerfiles' HEALTHCHECK and by the compose files.
//
// An https:// URL is probed without verifying the certificate: the probe talks to the service
// inside its own container over loopback, sends nothing secret, and only asks "do you answer",
// so the name in the certificate (the host's public name) cannot match 127.0.0.1 anyway.
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';

const TIMEOUT_MS = 5000;
const url = new URL(process.argv[2] ?? '');
const get = url.protocol === 'https:' ? httpsGet : httpGet;

const request = get(url, { timeout: TIMEOUT_MS, rejectUnauthorized: false }, (response) => {
  response.resume();
  process.exit(response.statusCode >= 200 && response.statusCode < 300 ? 0 : 1);
});
request.on('timeout', () => request.destroy(new Error('timeout')));
request.on('error', () => process.exit(1));
