import { Command } from 'commander';
import { ConfigError } from '../../src/config/app-config';
import {
  ApiError,
  ExitCode,
  ProtocolError,
  toCliFailure,
  UnreachableError,
  UsageError,
} from '../../src/modules/cli/cli-errors';
import { intOption, listOption, numberOption, parseInput } from '../../src/modules/cli/cli-command';
import { usageLine } from '../../src/modules/cli/cli-program';
import { normalizeApiUrl } from '../../src/modules/cli/client/http.client';
import { submitWorkflowSchema } from '../../src/modules/workflows/workflows.contract';

describe('CLI exit codes and messages', () => {
  it('maps every kind of failure to its exit code and one line', () => {
    expect(toCliFailure(new UsageError('bad flag'))).toEqual({
      exitCode: ExitCode.USAGE,
      message: 'bad flag',
      details: [],
    });
    expect(toCliFailure(new ConfigError([{ variable: 'PORT', message: 'is bad' }]))).toMatchObject({
      exitCode: 2,
      message: 'Invalid configuration: PORT is bad',
    });
    expect(toCliFailure(new UnreachableError('http://h:1', 'connection refused'))).toMatchObject({
      exitCode: 3,
      message: 'cannot reach the Broski server at http://h:1 (connection refused)',
    });
    expect(toCliFailure(new ApiError(404, 'not_found', 'Nope', [], 'req-1'))).toEqual({
      exitCode: 2,
      message: 'Nope',
      details: ['HTTP 404 not_found', 'request id: req-1'],
    });
    expect(
      toCliFailure(new ApiError(400, 'validation_failed', 'Bad', [{ path: 'a', message: 'm' }])),
    ).toMatchObject({ exitCode: 2, message: 'Bad (a: m)' });
    expect(toCliFailure(new ApiError(500, 'internal_error', 'Oops'))).toMatchObject({
      exitCode: 1,
    });
    expect(toCliFailure(new ProtocolError('odd answer'))).toMatchObject({ exitCode: 1 });
    const unexpected = toCliFailure(new Error('boom'));
    expect(unexpected.exitCode).toBe(1);
    expect(unexpected.details[0]).toContain('Error: boom');
    expect(toCliFailure('plain')).toMatchObject({ message: 'plain', details: [] });
  });

  it("turns commander's errors into one broski: line with a pointer to help", () => {
    const program = new Command('broski');
    const run = program.command('run');
    expect(usageLine(run, "error: unknown option '--x'\n(Did you mean --y?)\n")).toBe(
      "broski: unknown option '--x' (Did you mean --y?) (see 'broski run --help')\n",
    );
  });

  it('parses flags and inputs, naming what the user typed', () => {
    expect(intOption('12', 1, 100)).toBe(12);
    expect(() => intOption('1.5', 1, 100)).toThrow('whole number from 1 to 100');
    expect(() => intOption('0', 1, 100)).toThrow();
    expect(numberOption('0.5', 0, 2)).toBe(0.5);
    expect(() => numberOption('x', 0, 2)).toThrow('number from 0 to 2');
    expect(listOption(' a, b,,c ')).toEqual(['a', 'b', 'c']);
    expect(() => parseInput(submitWorkflowSchema, { request: '', requireApproval: 1 })).toThrow(
      '--request: must not be empty; --require-approval: Invalid input: expected boolean, received number',
    );
    expect(() => parseInput(submitWorkflowSchema, { extra: 1 })).toThrow(
      '--request: is required; --extra: is not accepted here',
    );
  });

  it('accepts the server URL with or without /api/v1', () => {
    expect(normalizeApiUrl('http://host:3000')).toBe('http://host:3000');
    expect(normalizeApiUrl('http://host:3000/api/v1/')).toBe('http://host:3000');
    expect(normalizeApiUrl('https://h/broski/')).toBe('https://h/broski');
    expect(() => normalizeApiUrl('ftp://h')).toThrow('not an http(s) URL');
    expect(() => normalizeApiUrl('nope')).toThrow('not a URL');
  });
});
