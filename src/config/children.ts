// Who agents and script tasks run as (MYNTRIX_CHILD_USER, MYNTRIX_TRUST_OPERATORS;
// docs/SECURITY.md). Read by the agents and scheduler areas, which start children.

import { type ChildUser, resolveChildUser } from '../process/child-user.js'
import { bool, type Env, str } from './env.js'

export interface ChildrenSettings {
  /**
   * The OS user agents and script tasks run as (`nobody` when unset on a root server).
   * undefined: the server's own user, so children can read the server's secrets and
   * only admins may decide what they run.
   */
  user: ChildUser | undefined
  /**
   * Where children share the server's user, let operators create, configure and start
   * agents anyway (they can then read the server's secrets). For a single-user machine,
   * and the test suite run without root.
   */
  trustOperators: boolean
}

export function childrenSettings(env: Env): ChildrenSettings {
  return {
    user: resolveChildUser(str(env, 'MYNTRIX_CHILD_USER')),
    trustOperators: bool(env, 'MYNTRIX_TRUST_OPERATORS', false),
  }
}

/** Children share the server's user and operators are not trusted with that: only admins decide. */
export function onlyAdminsDecide(children: ChildrenSettings): boolean {
  return children.user === undefined && !children.trustOperators
}
