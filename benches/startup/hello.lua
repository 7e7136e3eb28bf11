-- Start-up: the smallest whole program (benches/bench.py, "Start-up" table).
print("hello")
