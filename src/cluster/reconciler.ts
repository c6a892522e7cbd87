// The periodic pass of a clustered service that brings what it holds to the
// desired state (take what nobody holds and this node may run; say what is
// lost): one pass at a time (a slow one is joined, never doubled), the next
// one interval after the last ended, none once stopped. Kubernetes-style
// controllers: desired state reconciled by whoever holds the lease.

export class Reconciler {
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private isStopping = false

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly everyMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** True once stop() was called: a pass in progress should end early. */
  get stopping(): boolean {
    return this.isStopping
  }

  /** One pass now; joins the pass in progress, if any. */
  run(): Promise<void> {
    this.running ??= this.pass().finally(() => {
      this.running = null
    })
    return this.running
  }

  /** A pass every `everyMs` from now until stop(). */
  schedule(): void {
    if (this.isStopping) return
    this.timer = setTimeout(() => {
      this.run()
        .catch((err) => this.onError(err))
        .finally(() => this.schedule())
    }, this.everyMs)
    this.timer.unref()
  }

  /** No more passes; resolves when the one in progress has ended. */
  async stop(): Promise<void> {
    this.isStopping = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.running?.catch(() => {})
  }
}
