// The small accessibility rule set the browser tests run on every page:
// landmarks, one h1, labels on every field, named buttons, text contrast >= 4.5:1.
() => {
  const problems = [];
  const one = (sel, what) => { if (document.querySelectorAll(sel).length !== 1) problems.push(`expected one ${what}`); };
  one("main", "main landmark"); one("header", "banner"); one("footer", "contentinfo");
  if (!document.querySelector("nav[aria-label]")) problems.push("no labelled navigation");
  if (!document.documentElement.lang) problems.push("no lang on <html>");
  if (document.querySelectorAll("h1").length !== 1) problems.push("expected one h1");
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    const labelled = (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.getAttribute("aria-label");
    if (!labelled) problems.push(`unlabelled ${el.tagName} ${el.name}`);
  }
  for (const el of document.querySelectorAll("button")) {
    if (!(el.textContent.trim() || el.getAttribute("aria-label"))) problems.push("button without a name");
  }
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = (el) => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3); } return [255, 255, 255]; };
  for (const el of document.querySelectorAll("body *")) {
    const direct = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!direct || el.closest("svg") || el.offsetParent === null) continue;
    const fg = rgb(getComputedStyle(el).color).slice(0, 3); const bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)} for ${el.tagName} "${el.textContent.trim().slice(0, 30)}"`);
  }
  return problems;
}
