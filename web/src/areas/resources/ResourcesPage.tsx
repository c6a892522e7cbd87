import { NotInConsole } from '../../ui/NotInConsole'

export default function ResourcesPage() {
  return (
    <NotInConsole
      area="Resources"
      api="/api/myntrix/system-metrics, /api/myntrix/jobs"
      docs="docs/MONITORING.md"
    />
  )
}
