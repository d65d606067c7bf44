//go:build race

package htmltext

// raceEnabled: the race detector slows everything down; large-input tests
// use smaller inputs.
const raceEnabled = true
