/**
 * Splits a command string the way compose splits a string `command:` (and a shell splits a
 * simple command line): whitespace separates words, quotes group them. No expansion.
 */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (const match of text.matchAll(pattern)) words.push(match[1]?.replace(/\\(.)/g, '$1') ?? match[2] ?? match[3]!);
  return words;
}

/**
 * The simple commands of a `sh -c` script: split at `;`, `&&`, `||` and `|`, each as its words,
 * without a leading `exec`. Enough for the one-line scripts in the compose files.
 */
export function shellCommands(script: string): string[][] {
  return script
    .split(/;|&&|\|\||\|/)
    .map((part) => shellWords(part.trim()))
    .map((words) => (words[0] === 'exec' ? words.slice(1) : words))
    .filter((words) => words.length > 0);
}
