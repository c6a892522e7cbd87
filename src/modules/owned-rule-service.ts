// What the services of owner-scoped rules (notification rules, alert rules)
// share: the caller's page of rules, one rule, and the lookup every other
// operation starts from, which answers 404 for another owner's rule (a
// non-admin never learns it exists). Each area's service extends this with its
// own create, update and remove and its own view of a rule.

import { ownerScope, type Principal, visibleOr404 } from '../auth/principal.js'
import type { OwnedRule } from '../db/owned-rule-store.js'

/** What the base needs of the area's rule store (db/owned-rule-store.ts). */
export interface OwnedRuleReads<Rule> {
  get(id: string): Promise<Rule | undefined>
  list(
    ownerId: string | null,
    page: { limit: number; offset: number },
  ): Promise<{ items: Rule[]; total: number }>
}

export abstract class OwnedRuleService<Rule extends OwnedRule, View> {
  protected readonly now: () => Date

  /** `what` names the rule in a 404, e.g. 'alert rule'. */
  constructor(
    private readonly store: OwnedRuleReads<Rule>,
    private readonly what: string,
    private readonly view: (rule: Rule) => View,
    now?: () => Date,
  ) {
    this.now = now ?? (() => new Date())
  }

  async list(principal: Principal, page: { limit: number; offset: number }) {
    const { items, total } = await this.store.list(ownerScope(principal), page)
    return { items: items.map(this.view), total }
  }

  async get(principal: Principal, id: string): Promise<View> {
    return this.view(await this.visible(principal, id))
  }

  protected async visible(principal: Principal, id: string): Promise<Rule> {
    return visibleOr404(principal, await this.store.get(id), this.what, id)
  }
}
