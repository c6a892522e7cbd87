// The frame around every page: who is logged in and their role, log out, the
// navigation (a list of links named after the areas), and a visible notice
// while a live feed is reconnecting. The scene feed runs here, once, for
// every page.

import { NavLink, Outlet } from 'react-router'
import { useReconnectingFeeds } from '../api/live'
import { toProblem } from '../api/problem'
import { useSceneFeed } from '../api/scene-feed'
import { useLogout } from '../api/session'
import type { Me } from '../api/types'
import { ProblemView } from '../ui/ProblemView'
import { AREAS } from './areas'

export function Layout({ me }: { me: Me }) {
  useSceneFeed()
  const reconnecting = useReconnectingFeeds()
  const logout = useLogout()
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Myntrix</span>
        {reconnecting > 0 && (
          <span className="live-state" role="status">
            <span className="status status-busy">
              <span className="status-dot" aria-hidden="true" />
              <span className="status-text">Live updates reconnecting…</span>
            </span>
          </span>
        )}
        <span className="whoami">
          Logged in as <strong>{me.username}</strong> <span className="role-badge">{me.role}</span>
        </span>
        <button type="button" onClick={() => logout.mutate()} disabled={logout.isPending}>
          Log out
        </button>
      </header>
      {logout.error && <ProblemView problem={toProblem(logout.error)} />}
      <nav className="sidebar" aria-label="Areas">
        <ul>
          {AREAS.map((a) => (
            <li key={a.path}>
              <NavLink to={a.path} end={a.path === '/'}>
                {a.name}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" className="content" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  )
}
