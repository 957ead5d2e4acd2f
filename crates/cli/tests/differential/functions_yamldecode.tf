# terrane-difference: yamldecode is not implemented yet
output "y" { value = yamldecode("a: 1\nb: [x, y]\n") }
