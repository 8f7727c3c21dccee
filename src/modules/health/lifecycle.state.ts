import { Injectable } from '@nestjs/common';

/** Whether this process is draining (readiness answers 503 from the first shutdown signal). */
@Injectable()
export class LifecycleState {
  private draining = false;
  private readonly controller = new AbortController();

  startDraining(): void {
    this.draining = true;
    this.controller.abort();
  }

  /** Aborted when draining starts (live streams end on it). */
  get drainingSignal(): AbortSignal {
    return this.controller.signal;
  }

  get isDraining(): boolean {
    return this.draining;
  }
}
