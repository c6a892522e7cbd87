// What an area the console does not show yet says: the truth, and where to go instead.

export function NotInConsole({ area, api, docs }: { area: string; api: string; docs: string }) {
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">{area}</h1>
      <p className="notice">
        {area}: not in the console yet. Use the API at <a href="/docs">/docs</a> (<code>{api}</code>); the
        area is described in <code>{docs}</code>.
      </p>
    </section>
  )
}
