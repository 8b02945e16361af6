module github.com/payvault/payvault

go 1.26.0
