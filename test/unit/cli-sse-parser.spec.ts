import { SseParser } from '../../src/modules/cli/client/sse-parser';

describe('SseParser', () => {
  it('parses messages split across chunks, with ids, event names and comments', () => {
    const parser = new SseParser();
    expect(
      parser.push('retry: 2000\n\n: keep-alive\n\nid: 1\nevent: workflow.created\nda'),
    ).toEqual([]);
    expect(parser.push('ta: {"a":1}\n\nid: 2\ndata: x\n')).toEqual([
      { id: '1', event: 'workflow.created', data: '{"a":1}' },
    ]);
    expect(parser.push('\n')).toEqual([{ id: '2', event: undefined, data: 'x' }]);
  });

  it('joins data lines, accepts CRLF and CR line ends, and keeps the last id', () => {
    const parser = new SseParser();
    const messages = parser.push('id: 7\r\ndata: one\r\ndata:two\r\rdata: three\r');
    expect(messages).toEqual([{ id: '7', event: undefined, data: 'one\ntwo' }]);
    // The trailing CR may be half of a CRLF: the message completes with the next chunk.
    expect(parser.push('\n\n')).toEqual([{ id: '7', event: undefined, data: 'three' }]);
  });

  it('ignores messages without data and fields it does not know', () => {
    const parser = new SseParser();
    expect(parser.push('event: ping\nfoo: bar\nid\n\n')).toEqual([]);
    expect(parser.push('data\n\n')).toEqual([{ id: '', event: undefined, data: '' }]);
  });
});
