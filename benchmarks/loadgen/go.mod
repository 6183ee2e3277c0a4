module policypacks/benchmarks/loadgen

go 1.22
