output "nested" {
  value = {
    list = [1, "two", true]
    obj  = { x = { y = null } }
  }
}
