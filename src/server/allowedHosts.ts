import { hostname, networkInterfaces } from 'node:os';
import type { FastifyRequest } from 'fastify';
import { HttpError } from './httpErrors.js';

/** The names a loopback-bound server answers to. */
export const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '::1'] as const;

const WILDCARD = new Set(['0.0.0.0', '::', '']);

/**
 * @internal The `Host` names a server bound to `bindHost` serves by default: the loopback names,
 * plus, for a specific address, that address, and for a wildcard bind, this machine's host name and
 * interface addresses. Anything else in `Host` is a DNS-rebinding page in someone's browser (or a
 * misdirected request), refused before any route runs.
 */
export function defaultAllowedHosts(bindHost: string): string[] {
  const names = new Set<string>(LOOPBACK_HOSTS);
  if (WILDCARD.has(bindHost)) {
    names.add(hostname().toLowerCase());
    for (const addresses of Object.values(networkInterfaces())) {
      for (const info of addresses ?? []) names.add(info.address.toLowerCase());
    }
  } else {
    names.add(bindHost.toLowerCase());
  }
  return [...names];
}

/** @internal The host name of a `Host` header, without port or IPv6 brackets, lower-cased; undefined if malformed. */
export function hostOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const value = header.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(value);
  if (bracketed) return bracketed[1];
  const plain = /^([a-z0-9._-]+)(?::\d{1,5})?$/.exec(value);
  return plain?.[1]?.replace(/\.$/, '');
}

/** @internal An `onRequest` hook refusing requests whose `Host` is not one of `allowed` (`'*'`: any). */
export function hostCheck(allowed: readonly string[] | '*') {
  const names = allowed === '*' ? undefined : new Set(allowed.map((name) => hostOf(name) ?? name.toLowerCase()));
  return async (request: FastifyRequest): Promise<void> => {
    if (!names) return;
    const header = request.headers.host;
    const name = hostOf(header);
    if (name === undefined || !names.has(name)) {
      throw new HttpError(
        'HOST_NOT_ALLOWED',
        `host ${JSON.stringify(header ?? '')} is not served here (allowed: ${[...names].join(', ')}); add it to allowedHosts (--allowed-host)`,
      );
    }
  };
}
