// Usage: node validate.js <asyncapi.json>. Prints every diagnostic; exits 0 when the document is valid (no errors).
const { Parser } = require('@asyncapi/parser');
const fs = require('fs');

(async () => {
  const text = fs.readFileSync(process.argv[2], 'utf8');
  const { document, diagnostics } = await new Parser().parse(text);
  for (const d of diagnostics) {
    console.log(`severity=${d.severity} ${d.code} /${d.path.join('/')}: ${d.message}`);
  }
  const errors = diagnostics.filter(d => d.severity === 0);
  console.log(document && errors.length === 0 ? 'valid' : `invalid: ${errors.length} error(s)`);
  process.exit(document && errors.length === 0 ? 0 : 1);
})().catch(error => {
  console.error(error);
  process.exit(2);
});
