import { ConfigError, loadConfig } from '../../src/config/app-config';

describe('configuration', () => {
  it('applies the documented defaults with an empty environment', () => {
    const config = loadConfig({});
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 3000 });
    expect(config.database.path).toMatch(/data\/broski\.db$/);
    expect(config.queue.driver).toBe('inline');
    expect(config.llm.defaultModel).toBe('offline');
    expect(config.backup.onShutdown).toBe(true);
  });

  it('names every bad variable in one error', () => {
    expect.assertions(3);
    try {
      loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', DEFAULT_MODEL: 'gpt' });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = error instanceof Error ? error.message : '';
      expect(message).toMatch(/PORT/);
      expect(message).toMatch(/LOG_LEVEL.*DEFAULT_MODEL|DEFAULT_MODEL.*LOG_LEVEL/);
    }
  });

  it('rejects a port out of range', () => {
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT must be at most 65535/);
  });

  it('bounds JOB_CHAIN_STEPS: 0 turns chains off, more than 100 is refused', () => {
    expect(loadConfig({}).queue.chainSteps).toBe(12);
    expect(loadConfig({ JOB_CHAIN_STEPS: '0' }).queue.chainSteps).toBe(0);
    expect(() => loadConfig({ JOB_CHAIN_STEPS: '101' })).toThrow(
      /JOB_CHAIN_STEPS must be at most 100/,
    );
    expect(() => loadConfig({ JOB_CHAIN_STEPS: 'many' })).toThrow(/JOB_CHAIN_STEPS/);
  });

  it('chooses the BullMQ driver when REDIS_URL is set and the driver is auto', () => {
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).queue.driver).toBe('bullmq');
    expect(
      loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', QUEUE_DRIVER: 'inline' }).queue.driver,
    ).toBe('inline');
  });

  it('requires REDIS_URL for QUEUE_DRIVER=bullmq', () => {
    expect(() => loadConfig({ QUEUE_DRIVER: 'bullmq' })).toThrow(/REDIS_URL/);
  });

  it('treats empty values as unset and parses flags', () => {
    const config = loadConfig({ PORT: '', RUN_WORKERS: 'no', LOG_PRETTY: 'TRUE' });
    expect(config.http.port).toBe(3000);
    expect(config.queue.runWorkers).toBe(false);
    expect(config.log.pretty).toBe(true);
  });
});
