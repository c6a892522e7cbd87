// Splits a command string into argv the way a POSIX shell would tokenise it, but
// without running a shell: quotes and backslashes group words, nothing expands.
// Agents are spawned without a shell, so `a | b` would silently pass "|" as an
// argument; unquoted shell operators are rejected instead of guessed at.

export class CommandSyntaxError extends Error {}

const OPERATORS = new Set(['|', '||', '&', '&&', ';', ';;', '>', '>>', '<', '<<', '2>', '2>&1', '$(', '`'])

export function splitCommand(command: string): string[] {
  const argv: string[] = []
  let word = ''
  let inWord = false
  let wordHasQuotes = false
  let i = 0
  const pushWord = () => {
    if (inWord) {
      if (!wordHasQuotes && OPERATORS.has(word)) {
        throw new CommandSyntaxError(
          `shell operator "${word}" is not supported: the command runs without a shell; ` +
            `use ["sh", "-c", "..."] if you need one`,
        )
      }
      argv.push(word)
    }
    word = ''
    inWord = false
    wordHasQuotes = false
  }
  while (i < command.length) {
    const ch = command[i]
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      pushWord()
      i++
      continue
    }
    inWord = true
    if (ch === "'") {
      const end = command.indexOf("'", i + 1)
      if (end === -1) throw new CommandSyntaxError(`unterminated single quote at position ${i}`)
      word += command.slice(i + 1, end)
      wordHasQuotes = true
      i = end + 1
      continue
    }
    if (ch === '"') {
      wordHasQuotes = true
      i++
      let closed = false
      while (i < command.length) {
        const c = command[i]
        if (c === '"') {
          closed = true
          i++
          break
        }
        // Inside double quotes a backslash only escapes these, as in sh.
        const next = command[i + 1]
        if (c === '\\' && next !== undefined && '"\\$`'.includes(next)) {
          word += next
          i += 2
          continue
        }
        word += c
        i++
      }
      if (!closed) throw new CommandSyntaxError('unterminated double quote')
      continue
    }
    if (ch === '\\') {
      if (i + 1 >= command.length) throw new CommandSyntaxError('trailing backslash')
      word += command[i + 1]
      wordHasQuotes = true
      i += 2
      continue
    }
    word += ch
    i++
  }
  pushWord()
  return argv
}
