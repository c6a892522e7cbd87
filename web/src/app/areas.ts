// The console's areas, in navigation order. A new page is one entry here plus
// its folder under areas/ (see docs/CONSOLE.md).

export interface AreaLink {
  name: string
  path: string
}

export const AREAS: AreaLink[] = [
  { name: 'Overview', path: '/' },
  { name: 'Agents', path: '/agents' },
  { name: 'Devices', path: '/devices' },
  { name: 'Resources', path: '/resources' },
  { name: 'Tasks', path: '/tasks' },
  { name: '3D', path: '/scene' },
  { name: 'Admin', path: '/admin' },
]
