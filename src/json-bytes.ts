/** About how many characters of JSON one `JSON.stringify` call makes here: far below V8's large-object size. */
const PART_CHARS = 8 * 1024;
/** How deep objects and arrays are walked; deeper, JSON.stringify takes the rest whole (and finds any cycle). */
const MAX_DEPTH = 8;

/**
 * `JSON.stringify(value) + '\n'` (Apollo's answer text) as UTF-8 bytes, the same bytes, made without a string of
 * the whole: plain objects are written key by key and large arrays in batches of items, each batch through
 * `JSON.stringify`, then all of it into one Buffer (to a depth of MAX_DEPTH; below it, each value whole). Throws what
 * `JSON.stringify` throws (a cycle, a BigInt).
 *
 * Why: a 25-member page of slots is 150 KB of JSON. V8's `JSON.stringify` returns it as a tree of parts; writing
 * it to a socket or a Buffer first copies it into one flat string, which at that size is a large object of its
 * own, mapped fresh from the kernel, and `Buffer.from` zero-filled fresh pages again: about 35 page faults per
 * answer. In a loop, 1.2 ms per page that way against 0.3 ms this way; in the server, every other request one
 * way, 2.1 to 2.6 ms of CPU per page instead of 2.8 to 3.3 (BENCHMARKS.md, fifth session).
 * A value whose `toJSON` decides its form (a Date, an array or object with `toJSON`) is stringified whole.
 */
export function jsonBytes(value: unknown): Buffer {
  const parts: string[] = [];
  let chars = 0;
  const push = (text: string) => {
    parts.push(text);
    chars += text.length;
  };
  // Only arrays and plain objects are walked; anything else (a primitive, a Date, a boxed string, a class
  // instance, whatever has `toJSON`) is handed to JSON.stringify whole, which decides its form.
  const walked = (v: unknown, depth: number): v is object => {
    if (depth > MAX_DEPTH || v === null || typeof v !== 'object' || typeof (v as { toJSON?: unknown }).toJSON === 'function') return false;
    if (Array.isArray(v)) return true;
    const proto = Object.getPrototypeOf(v);
    return proto === Object.prototype || proto === null;
  };
  const write = (v: unknown, depth: number): void => {
    if (!walked(v, depth)) push(JSON.stringify(v) ?? 'null');
    else if (Array.isArray(v)) writeArray(v, depth);
    else writeObject(v as Record<string, unknown>, depth);
  };
  const writeObject = (v: Record<string, unknown>, depth: number) => {
    let separator = '{';
    for (const key of Object.keys(v)) {
      const item = v[key];
      const text = walked(item, depth + 1) ? null : JSON.stringify(item);
      // As JSON.stringify: a key whose value has no JSON form (undefined, a function, a symbol) is left out.
      if (text === undefined) continue;
      push(separator + JSON.stringify(key) + ':');
      separator = ',';
      if (text === null) write(item, depth + 1);
      else push(text);
    }
    push(separator === '{' ? '{}' : '}');
  };
  const writeArray = (items: unknown[], depth: number) => {
    if (items.length === 0) return push('[]');
    // The first item alone; its size sets how many of the next go into one JSON.stringify call. When it alone
    // is larger than a part, each item is walked instead (in an array, an item without JSON form is null).
    const first = JSON.stringify(items[0]) ?? 'null';
    push('[' + first);
    const perCall = first.length > PART_CHARS ? 0 : Math.max(1, Math.floor(PART_CHARS / (first.length + 1)));
    for (let i = 1; i < items.length; ) {
      if (perCall === 0) {
        push(',');
        write(items[i++], depth + 1);
      } else {
        const n = Math.min(perCall, items.length - i);
        push(',' + JSON.stringify(items.slice(i, i + n)).slice(1, -1));
        i += n;
      }
    }
    push(']');
  };
  write(value, 0);
  // At most 3 bytes of UTF-8 per UTF-16 unit (a surrogate pair: 4 for 2). allocUnsafe does not touch the pages.
  const buffer = Buffer.allocUnsafe(chars * 3 + 1);
  let at = 0;
  for (const part of parts) at += buffer.write(part, at, 'utf8');
  buffer[at++] = 0x0a;
  return buffer.subarray(0, at);
}
