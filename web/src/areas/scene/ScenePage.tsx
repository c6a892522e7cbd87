// Loaded on its own (React.lazy in app/App.tsx): three.js, when the scene is
// drawn here, stays out of the console's first download.

import { NotInConsole } from '../../ui/NotInConsole'

export default function ScenePage() {
  return (
    <NotInConsole
      area="3D"
      api="/api/myntrix/visualization-data, /ws/myntrix/visualization"
      docs="docs/VISUALIZATION.md"
    />
  )
}
