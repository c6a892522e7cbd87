// Admin: users, API keys and the audit log.
// Operators and viewers see only their own API keys here.

import { allows } from '../../api/session'
import type { Me } from '../../api/types'
import { ApiKeysSection } from './ApiKeysSection'
import { AuditSection } from './AuditSection'
import { UsersSection } from './UsersSection'

export default function AdminPage({ me }: { me: Me }) {
  const isAdmin = allows(me.role, 'admin')
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Admin</h1>
      {!isAdmin && <p className="muted">Users are managed by an admin; here are your own API keys.</p>}
      {isAdmin && <UsersSection me={me} />}
      <ApiKeysSection canChange={allows(me.role, 'operator')} />
      {isAdmin && <AuditSection />}
    </section>
  )
}
