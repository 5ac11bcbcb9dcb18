/**
 * Texts made from a number (an instant) and a group (a time zone), remembered so that the same text is made once:
 * pages of slots repeat the same grid times request after request, and formatting one costs about a
 * microsecond and a few hundred bytes of garbage. Bounded as a whole: when it holds `max` texts it starts over
 * (cheaper than an LRU's bookkeeping on every hit, and the grid times of the next requests come back at once).
 */
export class TextMemo {
  private readonly groups = new Map<string, Map<number, string>>();
  private size = 0;

  constructor(private readonly max: number) {}

  /** The text of `key` in `group`: remembered, or `make(key, group)` (which must not throw for a valid key). */
  get(group: string, key: number, make: (key: number, group: string) => string): string {
    let texts = this.groups.get(group);
    if (!texts) this.groups.set(group, (texts = new Map()));
    let text = texts.get(key);
    if (text === undefined) {
      if (this.size >= this.max) {
        this.groups.clear();
        this.groups.set(group, (texts = new Map()));
        this.size = 0;
      }
      texts.set(key, (text = make(key, group)));
      this.size++;
    }
    return text;
  }
}
