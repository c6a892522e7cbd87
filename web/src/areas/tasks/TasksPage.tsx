import { NotInConsole } from '../../ui/NotInConsole'

export default function TasksPage() {
  return <NotInConsole area="Tasks" api="/api/myntrix/tasks" docs="docs/SCHEDULER.md" />
}
