export interface SseMessage {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

/**
 * An incremental parser of a `text/event-stream` body (the WHATWG rules that matter here: lines
 * end in LF, CRLF or CR; a blank line dispatches; `:` starts a comment; several `data:` lines
 * join with LF; a message without data is not dispatched).
 */
export class SseParser {
  private buffer = '';
  private id: string | undefined;
  private event: string | undefined;
  private data: string[] = [];

  /** Feeds a chunk of text; returns the messages it completed. */
  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const messages: SseMessage[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (match === null) break;
      // A CR at the very end may be the first half of a CRLF: wait for the next chunk.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const message = this.line(line);
      if (message !== undefined) messages.push(message);
    }
    return messages;
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    else if (field === 'event') this.event = value;
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    const event = this.event;
    this.event = undefined;
    if (this.data.length === 0) return undefined;
    const data = this.data.join('\n');
    this.data = [];
    return { id: this.id, event, data };
  }
}
