module example.invalid/ksym/go/ksym

go 1.19
