import { withDeadline } from '../../src/common/deadline';

describe('withDeadline', () => {
  it('gives the value or the error of a promise that settles in time', async () => {
    await expect(withDeadline(Promise.resolve(7), 1000, () => new Error('late'))).resolves.toBe(7);
    await expect(
      withDeadline(Promise.reject(new Error('refused')), 1000, () => new Error('late')),
    ).rejects.toThrow('refused');
  });

  it('rejects with its own error once the time is up', async () => {
    const never = new Promise<number>(() => undefined);
    const started = Date.now();
    await expect(
      withDeadline(never, 50, () => new Error('no answer within 50 ms')),
    ).rejects.toThrow('no answer within 50 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });
});
