import type { ChatContentPart } from '../actors/ModelActor/types.js';

/**
 * @internal A message's content from the parts a route read, in order: text alone is its text
 * joined (a plain string, exactly what the route produced before it read images, so a text-only
 * request is unchanged for every model); with an image, the parts themselves, adjacent text parts
 * merged.
 */
export function partsContent(parts: readonly ChatContentPart[]): string | ChatContentPart[] {
  if (parts.every((part) => part.type === 'text')) return parts.map((part) => part.text).join('');
  const merged: ChatContentPart[] = [];
  for (const part of parts) {
    const last = merged.at(-1);
    if (part.type === 'text' && last?.type === 'text') merged[merged.length - 1] = { type: 'text', text: last.text + part.text };
    else if (part.type !== 'text' || part.text !== '') merged.push(part);
  }
  return merged;
}
