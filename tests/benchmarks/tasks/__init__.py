"""The task-success benchmark (tests/benchmarks/bench_tasks.py), split by concept:

- ``phrases``: what customers say, the demo business's facts, the run's constants;
- ``generation``: held-out openings filled with services, dates and noise, and the tasks;
- ``customer``: the simulated customer who answers what the bot asked;
- ``judging``: playing a task or a script and deciding whether it was completed;
- ``report``: the summary rows, the machine description and the printed table.
"""
