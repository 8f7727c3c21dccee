import { Option } from 'nest-commander';
import { MAX_PAGE_SIZE } from '../../common/pagination';
import { BroskiCommand, intOption } from './cli-command';

/** A list command: a page of at most MAX_PAGE_SIZE items, and the next one by its cursor. */
export abstract class PagedListCommand extends BroskiCommand {
  @Option({ flags: '--limit <n>', description: `page size, 1–${MAX_PAGE_SIZE} (default 20)` })
  parseLimit(value: string): number {
    return intOption(value, 1, MAX_PAGE_SIZE);
  }

  @Option({ flags: '--cursor <cursor>', description: 'the next page (printed under a full page)' })
  parseCursor(value: string): string {
    return value;
  }
}
