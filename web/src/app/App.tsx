// Routes. Until the session is known the console shows that it is loading;
// without one every path shows the login page, and after logging in the
// person stays on the page they asked for.

import { lazy, Suspense } from 'react'
import { Route, Routes } from 'react-router'
import { useSession } from '../api/session'
import AdminPage from '../areas/admin/AdminPage'
import AgentPage from '../areas/agents/AgentPage'
import AgentsPage from '../areas/agents/AgentsPage'
import DevicesPage from '../areas/devices/DevicesPage'
import LoginPage from '../areas/login/LoginPage'
import OverviewPage from '../areas/overview/OverviewPage'
import ResourcesPage from '../areas/resources/ResourcesPage'
import TasksPage from '../areas/tasks/TasksPage'
import { Loading, QueryState } from '../ui/Loading'
import { Layout } from './Layout'

// The 3D page brings three.js: a chunk of its own, fetched when the page is opened.
const ScenePage = lazy(() => import('../areas/scene/ScenePage'))

export function App() {
  const { me, error } = useSession()
  if (me === undefined) return <QueryState what="session" error={error} />
  if (me === null) return <LoginPage />
  return (
    <Routes>
      <Route element={<Layout me={me} />}>
        <Route index element={<OverviewPage />} />
        <Route path="agents" element={<AgentsPage me={me} />} />
        <Route path="agents/:id" element={<AgentPage me={me} />} />
        <Route path="devices/*" element={<DevicesPage />} />
        <Route path="resources/*" element={<ResourcesPage />} />
        <Route path="tasks/*" element={<TasksPage />} />
        <Route
          path="scene/*"
          element={
            <Suspense fallback={<Loading what="the 3D scene" />}>
              <ScenePage />
            </Suspense>
          }
        />
        <Route path="admin" element={<AdminPage me={me} />} />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  )
}

function NotFound() {
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Not found</h1>
      <p>There is no page at this address.</p>
    </section>
  )
}
