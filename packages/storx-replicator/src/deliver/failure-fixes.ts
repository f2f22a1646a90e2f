/**
 * The fix for each way a delivery can fail, in one place: `run` logs it, `status`, `doctor` and
 * /healthz print it. The receiver sends its own fix with the codes it knows (TABLE_INCOMPATIBLE...);
 * these cover what only the sender can judge (no answer, TLS, a wrong path, someone else answering).
 */

/** A refusal (permanent 4xx, or a 2xx that is not our receiver's answer). */
export function rejectionFix(code: string, httpStatus: number, receiverFix: string | undefined): string {
  // Only the sender knows which body format it sent: an older receiver's own words cannot say it.
  if (httpStatus === 415) {
    return 'the receiver does not take this body format: a receiver older than v3 refuses v3 bodies; upgrade it, or set replication.format to auto (v3 only where the receiver names it in its ping answer) or v2; otherwise a proxy rewrote content-type';
  }
  if (receiverFix !== undefined) return receiverFix;
  if (code === 'NOT_A_RECEIVER') return "check replication.webhook-url: it must be the receiver's POST /webhook endpoint, not another service";
  switch (httpStatus) {
    case 401:
      return "the receiver must trust this sender (the public half of replication.signing-key listed in its trusted-sender-keys), replication.webhook-public-key must be the public half of one of its private-keys, and both clocks must agree within its timestamp tolerance (storx-replicator doctor names the files and key ids)";
    case 404:
    case 405:
      return "check replication.webhook-url: the receiver's endpoint is POST /webhook (storx-replicator doctor checks it)";
    case 413:
      return "a proxy in front of the receiver limits the body size: raise its limit (and the receiver's body-limit) or lower replication.max-batch-bytes (replication.copy-chunk-bytes for a table copy)";
    default:
      return `look up ${code} in docs/errors.md and the receiver's log`;
  }
}

/** A failure before any HTTP answer: refused, DNS, TLS, reset, timeout. */
export function transportFix(message: string, url: URL): string {
  const where = `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
  if (/wrong version number|packet length too long|EPROTO|ssl3_get_record|http request/i.test(message)) {
    return `the receiver at ${where} does not speak https: use http:// in replication.webhook-url, or start the receiver with tls-cert and tls-key`;
  }
  if (/self[- ]signed|unable to verify|unable to get (local )?issuer|UNABLE_TO_GET_ISSUER|certificate chain|CERT_/i.test(message)) {
    return "the receiver's certificate is not trusted: if it is signed by a private CA, set replication.webhook-ca to that CA's certificate (PEM); check that the certificate names the host in replication.webhook-url";
  }
  if (/ECONNREFUSED/.test(message)) return `nothing listens at ${where}: start backuptools-receiver serve there, or fix the host and port in replication.webhook-url`;
  if (/ENOTFOUND|EAI_AGAIN/.test(message)) return `the host name ${url.hostname} does not resolve: fix replication.webhook-url or the DNS`;
  if (/ECONNRESET|socket hang up/i.test(message) && url.protocol === 'http:') {
    return `the connection to ${where} was closed without an answer: if the receiver serves https (tls-cert), use https:// in replication.webhook-url; else check proxies and firewalls`;
  }
  if (/no answer .* within/.test(message)) return "the receiver did not answer within replication.webhook-timeout: check it, its database and the network between the hosts";
  return `check that backuptools-receiver runs at ${where} and that the network between the hosts is open`;
}
