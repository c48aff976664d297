// sphinxcontrib-mermaid imports mermaid as an ES module; the vendored build is the single-file mermaid.min.js,
// loaded as a classic script before this module on pages with a diagram (docs/site/conf.py), which sets window.mermaid.
export default window.mermaid;
