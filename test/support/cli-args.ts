// The arguments `dysco` parses for a command line, taken before its handler runs.
import assert from 'node:assert/strict';
import { buildCli } from '../../src/cli/main';

const STOP = 'stop before the handler';

export async function parsedArgs<T>(argv: string[]): Promise<T> {
  let captured: unknown;
  await assert.rejects(
    async () =>
      buildCli(argv)
        .fail(false)
        .middleware((args) => {
          captured = args;
          throw new Error(STOP);
        })
        .parseAsync(),
    new RegExp(STOP),
  );
  return captured as T;
}
