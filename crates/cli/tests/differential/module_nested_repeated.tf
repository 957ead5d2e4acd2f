module "outer" {
  source = "./outer"
  count  = 2
  prefix = "o${count.index}"
}
output "all" { value = module.outer[*].labels }
