/**
 * The promise's outcome, or a rejection with `onTimeout()` once `ms` have passed, whichever comes
 * first. The timer never outlives the race, and a late rejection of `promise` is handled (the race
 * listens to it), never reported as unhandled.
 */
export async function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => Error,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
