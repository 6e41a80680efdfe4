/**
 * @internal How `NatsKvStore` names a store key in its bucket: `<collection>.<id>`, two subject
 * tokens, so that a collection is listed with the filter `<collection>.*`.
 *
 * A store key may hold `.` (a subject's token separator) and `:` (which NATS KV keys refuse), and
 * may end with `.` (which they refuse too). KV keys allow `=` and `/`, which store keys never
 * hold, so `.` is written `=` and `:` is written `/`: a one-to-one mapping of characters, hence
 * every valid store key round-trips and no two store keys meet in one KV key.
 */
import { checkStoreKey } from './Store.js';

/** @internal The KV key of (collection, id); both are valid store keys. */
export function natsKvKey(collection: string, id: string): string {
  return `${encodePart(collection)}.${encodePart(id)}`;
}

/** @internal The filter that matches every KV key of `collection`'s values. */
export function natsKvCollectionFilter(collection: string): string {
  return `${encodePart(collection)}.*`;
}

/**
 * @internal The (collection, id) a KV key names, or undefined for a key this mapping never writes
 * (another program's, in a shared bucket): those are not the store's to list.
 */
export function storeKeyOfNatsKv(key: string): { collection: string; id: string } | undefined {
  const tokens = key.split('.');
  if (tokens.length !== 2) return undefined;
  const [collection, id] = tokens.map(decodePart) as [string, string];
  try {
    checkStoreKey('collection', collection);
    checkStoreKey('id', id);
  } catch {
    return undefined;
  }
  // A key with `.` or `:` written as itself decodes to a valid store key too; only the spelling
  // natsKvKey writes is the store's.
  return natsKvKey(collection, id) === key ? { collection, id } : undefined;
}

function encodePart(part: string): string {
  return part.replaceAll('.', '=').replaceAll(':', '/');
}

function decodePart(part: string): string {
  return part.replaceAll('=', '.').replaceAll('/', ':');
}
