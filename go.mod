module github.com/artclass/artclass

go 1.26.0

require (
	github.com/james-bowman/nlp v0.0.0-20210511120306-26d441fa0ded
	github.com/james-bowman/sparse v0.0.0-20260216202247-495ee4f84d35
	gonum.org/v1/gonum v0.17.0
)

require (
	github.com/armon/go-radix v1.0.0 // indirect
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spaolacci/murmur3 v1.1.0 // indirect
	github.com/spf13/cobra v1.10.2 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	golang.org/x/exp v0.0.0-20250620022241-b7579e27df2b // indirect
	golang.org/x/tools v0.49.0 // indirect
)
