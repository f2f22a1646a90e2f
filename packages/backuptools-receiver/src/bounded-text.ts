/** Longest text of one logged field or answered message: a 1 MiB bogus value must not become a 1 MiB log line. */
export const LOG_TEXT_LIMIT = 1000;

/** `text` cut after `limit` characters, saying how many more there were. */
export function boundedText(text: string, limit = LOG_TEXT_LIMIT): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}… (${text.length - limit} more characters)`;
}
