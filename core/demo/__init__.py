"""Demo data: a generated multi-year sales history with known, planted patterns (`clientforge seed`).

`service.seed()` fills a workspace; `truth.draw()` holds the planted parameters, `generate.Generator` the
simulation, `load` the COPY plumbing. The truth file (`service.truth_path(slug)`) is the yardstick that
analytics and models are checked against.
"""
