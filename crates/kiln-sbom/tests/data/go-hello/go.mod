module example.com/kiln/go-hello

go 1.19

require example.com/greet v1.2.3
