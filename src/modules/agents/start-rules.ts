// Who may decide what an agent runs. Where children run as the server's own OS
// user, an agent's command could read the server's secrets, so there only
// admins may configure agents, and a process starts only for an admin (the
// caller, or the agent's owner as the owner is now).

import type { Principal } from '../../auth/principal.js'
import { ForbiddenError } from '../../errors.js'
import type { AgentRecord } from './repository.js'
import { adminOnlyFields, type RuntimeConfig } from './runtime-config.js'

/** Why non-admins may not decide what an agent runs where children share the server's user. */
export const SAME_USER_REASON =
  "agents run as the server's own OS user here (MYNTRIX_CHILD_USER is root, or unset on a non-root " +
  "server), so an agent's command could read the server's secrets (JWT secret, database, start-up " +
  'environment)'

/** A caller from another area (the scheduler): null ownerId acts for the system. */
export interface AgentActor {
  ownerId: string | null
  role?: string
}

/** Who may act: an authenticated user, or another area acting for an owner. */
export type Caller = { principal: Principal } | { actor: AgentActor }

export interface StartRulesOptions {
  /** True when agents run as the server's own OS user (no separate child user). */
  childrenShareServerUser: boolean
  /** An agent's owner as the owner is now (the auth area's users). */
  findOwner: (id: string) => Promise<{ role: string; disabled: boolean } | undefined>
}

export class StartRules {
  constructor(private readonly options: StartRulesOptions) {}

  /** Creating or reconfiguring an agent decides what it runs: see SAME_USER_REASON. */
  assertMayConfigure(principal: Principal, action: string): void {
    if (this.options.childrenShareServerUser && principal.role !== 'admin') {
      throw new ForbiddenError(`only an admin may ${action}: ${SAME_USER_REASON}`)
    }
  }

  /** A host mount, the host's network or root in a container: each is a way out of the
   * container onto the host, so only an admin may put one in a configuration. */
  assertMayUseContainer(principal: Principal, configuration: Record<string, unknown>): void {
    if (principal.role === 'admin') return
    const fields = adminOnlyFields(configuration.runtime as RuntimeConfig | undefined)
    if (fields.length > 0) throw new ForbiddenError(fields.map((f) => `${f.path}: ${f.message}`).join('; '))
  }

  async assertMayStart(caller: Caller, record: AgentRecord): Promise<void> {
    const refusal = await this.startRefusal(caller, record)
    if (refusal) throw new ForbiddenError(refusal)
  }

  /**
   * Where children share the server's user, a process starts only for an admin
   * (the caller, or the agent's owner as the owner is now): an operator's agent
   * configured while children ran as another user, or whose owner was demoted,
   * is not started, whoever asks (API, a scheduled task, start-up). The same holds
   * everywhere for a container with admin-only fields (a host mount, the host's
   * network, root): they were allowed because an admin set them, and stop being
   * allowed when that admin is demoted or disabled.
   */
  async startRefusal(caller: Caller, record: AgentRecord): Promise<string | null> {
    const containerFields = adminOnlyFields(record.configuration.runtime as RuntimeConfig | undefined)
    if (!this.options.childrenShareServerUser && containerFields.length === 0) return null
    if ('principal' in caller ? caller.principal.role === 'admin' : caller.actor.role === 'admin') return null
    const owner = await this.options.findOwner(record.ownerId)
    if (owner?.role === 'admin' && !owner.disabled) return null
    if (containerFields.length > 0) {
      const fields = containerFields.map((f) => `${f.path}: ${f.message}`).join('; ')
      return `only an admin may start this container agent, and its owner is not one now (${fields})`
    }
    return `only an admin may start an agent owned by a non-admin: ${SAME_USER_REASON}`
  }
}
