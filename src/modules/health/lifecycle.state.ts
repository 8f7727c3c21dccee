import { Injectable } from '@nestjs/common';

/** Whether this process is draining (readiness answers 503 from the first shutdown signal). */
@Injectable()
export class LifecycleState {
  private draining = false;

  startDraining(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }
}
