// The console is served by the API under /console/; the build lands in ../dist, which the Go
// package embeds. No inline script or style: the Content-Security-Policy forbids both.
export default {
  base: '/console/',
  build: {
    outDir: '../dist/app',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
};
