/**
 * The keys that appear more than once in one object of a JSON text, in the order met. JSON.parse
 * keeps the last of them and says nothing, so a log line that writes a key twice loses a value
 * without a sound; this reads the text itself. `text` must be valid JSON.
 */
export function duplicateKeys(text: string): string[] {
  JSON.parse(text);
  const duplicates: string[] = [];
  let i = 0;
  const space = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const string = (): string => {
    const start = i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === '"') return void string();
    if (c === '{' || c === '[') {
      const object = c === '{';
      const keys = new Set<string>();
      i++;
      space();
      if (text[i] === (object ? '}' : ']')) return void i++;
      for (;;) {
        if (object) {
          space();
          const key = string();
          if (keys.has(key)) duplicates.push(key);
          keys.add(key);
          space();
          i++; // ':'
        }
        value();
        space();
        if (text[i++] !== ',') return; // '}' or ']'
      }
    }
    while (i < text.length && !',]} \t\r\n'.includes(text[i]!)) i++; // a number, true, false or null
  };
  value();
  return duplicates;
}
