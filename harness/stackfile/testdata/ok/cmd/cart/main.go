// Command cart stands for the team's cart service in the stackfile tests;
// only its folder's existence matters.
package main

func main() {}
