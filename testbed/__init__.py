"""What the tests and the benchmarks both stand on: a throwaway PostgreSQL cluster of the
deployed major (`pg`) and a thin docker CLI wrapper that never pulls (`docker`). Neither package
imports the other's code; both import this."""
