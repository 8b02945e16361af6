// Command payvault is the payvault server and its operator CLI.
package main

func main() {}
