import type { OurService } from './our-services.js';
import { execForm, instructionFlags, instructions } from '../dockerfile/dockerfile.js';

/** The health check a container runs: the compose file's, else the image's HEALTHCHECK; and the URL it probes. */
export function healthcheckUrl(service: OurService): { url: URL | undefined; from: string } | undefined {
  if (service.service.healthcheck !== undefined) return { url: firstUrl(service.service.healthcheck), from: 'its healthcheck' };
  const stage = service.dockerfile?.stages.at(-1);
  const instruction = stage && instructions(stage, 'HEALTHCHECK').at(-1);
  if (!instruction) return undefined;
  const command = instructionFlags(instruction.args).rest.replace(/^CMD\s+/, '');
  return { url: firstUrl(execForm(command) ?? [command]), from: 'the image\'s HEALTHCHECK' };
}

/** The first http(s) URL among a command's words. */
export function firstUrl(words: readonly string[]): URL | undefined {
  const match = /https?:\/\/[^\s"']+/.exec(words.join(' '));
  return match ? new URL(match[0]) : undefined;
}

/** The port of a URL, with the scheme's default. */
export function urlPort(url: URL): number {
  return url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
}
